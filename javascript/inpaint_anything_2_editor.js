// Inpaint Anything front end, file 2 of 6: the mask editor ("canvas"), class Editor. Needs files 0-1.
//
// It draws the picture with the segment map and mask overlays Python sends (file 5 hands them in
// through checkLayer), takes points, a box and strokes in image coordinates, keeps undo/redo here,
// and sends every change as a snapshot event (file 1). While SAM prepares the picture it shows the
// progress, and with the Click tool before the first click it outlines what a click would select.
// "Select by text" boxes (JSON in #ia_canvas_boxes, read by readBoxes) are drawn in screen space with
// their phrase and score; clicking a label switches that detection off or on (a "text_box" event
// whose kept flags are part of the snapshot, so undo/redo cover them).
// State lives in JS objects, so gradio re-rendering the mount point does not lose points or strokes.
//
// Keys (while the pointer is over the canvas or the editor has focus): Ctrl+Z undo,
// Ctrl+Shift+Z / Ctrl+Y redo, [ / ] brush size, Space+drag pan (middle button drag pans too),
// wheel zoom around the pointer.
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.Editor) return;
    const { isDark } = IA;
    const { el, loadImage, round2, clamp, fieldOf } = IA.util;
    const { sendEvent, sendProbe, events, probes, upload: uploadFile, chooseFile } = IA.bridge;

    const TOOLS = [
        ["scribble", "Scribble", "Scribble over the segment map to select the segments you touch"],
        ["point_add", "Click +", "Click on the object to add it (positive point)"],
        ["point_remove", "Click \u2212", "Click on a part to exclude it (negative point)"],
        ["box", "Box", "Drag a rectangle around the object"],
        ["brush_add", "Brush +", "Paint into the mask"],
        ["brush_erase", "Brush \u2212", "Erase from the mask"],
    ];
    const STROKE_MODE = { scribble: "scribble", brush_add: "add", brush_erase: "erase" };
    const COLORS = {
        light: { bg: "#eef0f3", text: "#4b5563", mask: [255, 40, 120], scribble: "rgba(37,99,235,0.55)", box: "#2563eb",
            label: "#ffffff", off: "#6b7280" },
        dark: { bg: "#1b1f27", text: "#9ca3af", mask: [255, 90, 160], scribble: "rgba(96,165,250,0.6)", box: "#60a5fa",
            label: "#0b1220", off: "#9ca3af" },
    };
    const MAX_HISTORY = 100;
    const HOVER_EVERY_MS = 40; // at most one hover probe per this many ms while the pointer moves

    // Identifies an image by size and a 12x12 thumbnail (gradio 4 re-serves the same picture under
    // new URLs); a new signature means a new picture, which resets the prompt state.
    function signature(im) {
        const c = el("canvas");
        c.width = 12;
        c.height = 12;
        const ctx = c.getContext("2d");
        ctx.drawImage(im, 0, 0, 12, 12);
        let pixels;
        try {
            pixels = Array.from(ctx.getImageData(0, 0, 12, 12).data).join(",");
        } catch (err) { // a cross-origin image taints the canvas
            pixels = im.src;
        }
        return im.naturalWidth + "x" + im.naturalHeight + ":" + pixels;
    }

    class Editor {
        constructor() {
            this.state = { points: [], box: null, strokes: [], text: null };
            this.undoStack = [];
            this.redoStack = [];
            this.seq = 0;
            this.strokeId = 0;
            this.pending = new Set();
            this.tool = "point_add";
            this.brush = 16;
            this.view = { s: 1, ox: 0, oy: 0, fitted: true };
            this.image = null;
            this.imageSig = "";
            this.segments = null;
            this.maskImage = null;
            this.maskOverlay = null;
            this.maskVersion = 0;
            this.showSegments = true;
            this.segOpacity = 0.45;
            this.showMask = true;
            this.maskOpacity = 0.5;
            this.drag = null;
            this.hover = null;
            this.spaceDown = false;
            this.dark = null;
            this.frame = 0;
            this.sources = {};
            this.lastEvent = null;
            this.sam = null; // the last probe answer: SAM preparation state, hover availability
            this.hoverPolys = null; // outline of the object under the pointer (image coordinates)
            this.hoverAt = 0;
            this.hoverTimer = 0;
            this.statusProbeAt = 0;
            this.watchUntil = 0; // probe the preparation state until then (or while it is pending)
            this.textBoxes = null; // "Select by text" detections shown: {id, boxes: [{box, label, score, kept}]}
            this.boxesText = ""; // the #ia_canvas_boxes value last read
            this.textHits = []; // label rectangles (backing pixels) -> box index, for clicks
            this.build();
            setInterval(() => this.pollSam(), 500);
        }

        build() {
            this.el = el("div", "ia-cv", { tabindex: "0" });
            const bar = el("div", "ia-cv-toolbar");
            this.toolButtons = {};
            for (const [id, label, title] of TOOLS) {
                const b = el("button", "ia-cv-btn ia-cv-tool", { type: "button", title: title, "data-ia-tool": id, text: label });
                b.addEventListener("click", () => this.setTool(id));
                this.toolButtons[id] = b;
                bar.appendChild(b);
            }
            bar.appendChild(el("span", "ia-cv-sep"));
            const size = el("label", "ia-cv-field", { title: "Brush size in image pixels ([ and ])" });
            size.appendChild(el("span", "", { text: "Size" }));
            this.sizeInput = el("input", "ia-cv-range ia-cv-size", { type: "range", min: "1", max: "256", step: "1" });
            this.sizeInput.addEventListener("input", () => this.setBrush(Number(this.sizeInput.value)));
            this.sizeLabel = el("span", "ia-cv-num");
            size.append(this.sizeInput, this.sizeLabel);
            bar.appendChild(size);
            bar.appendChild(el("span", "ia-cv-sep"));
            bar.appendChild(this.layerControl("Segments", "showSegments", "segOpacity", "ia-cv-seg"));
            bar.appendChild(this.layerControl("Mask", "showMask", "maskOpacity", "ia-cv-mask"));
            bar.appendChild(el("span", "ia-cv-sep"));
            for (const [name, label, title, fn] of [
                ["undo", "Undo", "Undo (Ctrl+Z)", () => this.undo()],
                ["redo", "Redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)", () => this.redo()],
                ["clear", "Clear", "Remove all points, boxes and strokes", () => this.clear()],
                ["fit", "Fit", "Fit the image in the view", () => { this.fit(); this.requestRender(); }],
            ]) {
                const b = el("button", "ia-cv-btn ia-cv-" + name, { type: "button", title: title, text: label });
                b.addEventListener("click", fn);
                bar.appendChild(b);
            }
            this.stage = el("div", "ia-cv-stage");
            this.canvas = el("canvas", "ia-cv-canvas");
            this.ctx = this.canvas.getContext("2d");
            this.stage.appendChild(this.canvas);
            this.status = el("div", "ia-cv-status");
            this.el.append(bar, this.stage, this.status);

            const c = this.canvas;
            c.addEventListener("pointerdown", (e) => this.onDown(e));
            c.addEventListener("pointermove", (e) => this.onMove(e));
            c.addEventListener("pointerup", (e) => this.onUp(e));
            c.addEventListener("pointercancel", () => { this.drag = null; this.requestRender(); });
            c.addEventListener("pointerenter", () => { this.over = true; this.watch(3000); });
            c.addEventListener("pointerleave", () => { this.over = false; this.hover = null; this.hoverPolys = null; this.requestRender(); });
            c.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
            // The editor is the image area: drop a file on it, paste one (Ctrl+V), or click it while empty.
            this.stage.addEventListener("dragover", (e) => {
                if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes("Files")) return;
                e.preventDefault();
                this.stage.classList.add("ia-drop");
            });
            this.stage.addEventListener("dragleave", () => this.stage.classList.remove("ia-drop"));
            this.stage.addEventListener("drop", (e) => {
                this.stage.classList.remove("ia-drop");
                const file = e.dataTransfer && Array.from(e.dataTransfer.files || []).find((f) => /^image\//.test(f.type));
                if (!file) return;
                e.preventDefault();
                uploadFile(file);
            });
            document.addEventListener("paste", (e) => {
                // only while our tab is shown (the WebUI's other tabs handle their own pastes)
                if (!this.el.isConnected || this.el.offsetParent === null || !(this.active() || !this.image)) return;
                const t = e.target;
                if (t && (t.isContentEditable || /^(TEXTAREA|INPUT|SELECT)$/.test(t.tagName))) return;
                const item = e.clipboardData && Array.from(e.clipboardData.items || []).find((i) => i.kind === "file" && /^image\//.test(i.type));
                const file = item && item.getAsFile();
                if (!file) return;
                e.preventDefault();
                uploadFile(file);
            });
            c.addEventListener("contextmenu", (e) => { if (this.drag) e.preventDefault(); });
            c.addEventListener("auxclick", (e) => { if (e.button === 1) e.preventDefault(); });
            document.addEventListener("keydown", (e) => this.onKey(e, true));
            document.addEventListener("keyup", (e) => this.onKey(e, false));
            window.addEventListener("blur", () => { this.spaceDown = false; });
            new ResizeObserver(() => this.resize()).observe(this.stage);
            this.setTool(this.tool);
            this.setBrush(this.brush);
        }

        layerControl(label, showKey, opacityKey, cls) {
            const wrap = el("span", "ia-cv-field " + cls);
            const toggle = el("button", "ia-cv-btn ia-cv-toggle", { type: "button", title: "Show or hide the " + label.toLowerCase() + " overlay", text: label });
            toggle.classList.toggle("ia-active", this[showKey]);
            toggle.addEventListener("click", () => {
                this[showKey] = !this[showKey];
                toggle.classList.toggle("ia-active", this[showKey]);
                this.requestRender();
            });
            const range = el("input", "ia-cv-range", { type: "range", min: "0", max: "100", step: "5", title: label + " opacity" });
            range.value = String(Math.round(this[opacityKey] * 100));
            range.addEventListener("input", () => { this[opacityKey] = Number(range.value) / 100; this.requestRender(); });
            wrap.append(toggle, range);
            return wrap;
        }

        attach(mount) {
            if (this.el.parentNode === mount) return;
            mount.textContent = "";
            mount.appendChild(this.el);
            this.resize();
        }

        // ---------------------------------------------------------------- view and coordinates
        resize() {
            const w = this.stage.clientWidth, h = this.stage.clientHeight;
            if (!w || !h) return;
            const dpr = window.devicePixelRatio || 1;
            const bw = Math.round(w * dpr), bh = Math.round(h * dpr);
            if (bw !== this.canvas.width || bh !== this.canvas.height) {
                this.canvas.width = bw;
                this.canvas.height = bh;
                if (this.view.fitted) this.fit();
            }
            this.requestRender();
        }

        fit() {
            const c = this.canvas;
            if (!this.image || !c.width) return;
            const iw = this.image.naturalWidth, ih = this.image.naturalHeight;
            const m = 8 * (window.devicePixelRatio || 1);
            const s = Math.max(1e-3, Math.min((c.width - 2 * m) / iw, (c.height - 2 * m) / ih));
            this.view = { s: s, ox: (c.width - iw * s) / 2, oy: (c.height - ih * s) / 2, fitted: true };
        }

        // Backing-store pixels per CSS pixel of the canvas as laid out (covers DPR and CSS transforms).
        scale() {
            const r = this.canvas.getBoundingClientRect();
            return { r: r, kx: r.width ? this.canvas.width / r.width : 1, ky: r.height ? this.canvas.height / r.height : 1 };
        }

        // Pointer -> backing pixels (bx, by) and continuous image coordinates (x, y): pixel i spans [i, i+1).
        pointer(e) {
            const { r, kx, ky } = this.scale();
            const bx = (e.clientX - r.left) * kx, by = (e.clientY - r.top) * ky;
            return { bx: bx, by: by, x: (bx - this.view.ox) / this.view.s, y: (by - this.view.oy) / this.view.s };
        }

        // Image coordinates (centre convention, as sent to Python) -> viewport (client) coordinates.
        imageToClient(x, y) {
            const { r, kx, ky } = this.scale();
            return { x: r.left + ((x + 0.5) * this.view.s + this.view.ox) / kx, y: r.top + ((y + 0.5) * this.view.s + this.view.oy) / ky };
        }

        inside(p) {
            return this.image && p.x >= 0 && p.y >= 0 && p.x < this.image.naturalWidth && p.y < this.image.naturalHeight;
        }

        zoomAt(bx, by, factor) {
            if (!this.image) return;
            const v = this.view;
            const fitS = Math.min(this.canvas.width / this.image.naturalWidth, this.canvas.height / this.image.naturalHeight);
            const s = clamp(v.s * factor, Math.min(fitS / 8, 1), 64);
            const ix = (bx - v.ox) / v.s, iy = (by - v.oy) / v.s;
            this.view = { s: s, ox: bx - ix * s, oy: by - iy * s, fitted: false };
            this.requestRender();
        }

        // ---------------------------------------------------------------- tools and state
        setTool(tool) {
            if (!this.toolButtons[tool]) return;
            this.tool = tool;
            this.hoverPolys = null;
            for (const [id, b] of Object.entries(this.toolButtons)) b.classList.toggle("ia-active", id === tool);
            this.el.setAttribute("data-ia-tool", tool);
            this.requestRender();
        }

        setBrush(size) {
            this.brush = clamp(Math.round(size) || 1, 1, 256);
            this.sizeInput.value = String(this.brush);
            this.sizeLabel.textContent = String(this.brush);
            this.requestRender();
        }

        snapshot() {
            return JSON.parse(JSON.stringify(this.state));
        }

        change(kind, mutate) {
            this.undoStack.push(this.snapshot());
            if (this.undoStack.length > MAX_HISTORY) this.undoStack.shift();
            this.redoStack = [];
            mutate(this.state);
            this.emit(kind);
        }

        undo() {
            if (!this.undoStack.length) return;
            this.redoStack.push(this.snapshot());
            this.state = this.undoStack.pop();
            this.emit("undo");
        }

        redo() {
            if (!this.redoStack.length) return;
            this.undoStack.push(this.snapshot());
            this.state = this.redoStack.pop();
            this.emit("redo");
        }

        clear() {
            if (!this.image) return;
            this.textBoxes = null; // Clear drops the text selection too (Python does the same)
            this.change("clear", (st) => { st.points = []; st.box = null; st.strokes = []; st.text = null; });
        }

        toggleTextBox(i) {
            const st = this.state.text;
            if (!st || !this.textBoxes || st.id !== this.textBoxes.id || i >= st.kept.length) return;
            this.change("text_box", (s) => { s.text.kept[i] = !s.text.kept[i]; });
        }

        // The "Select by text" boxes Python shows (#ia_canvas_boxes, see inpaint_anything/ui/canvas.py).
        // A new id starts with Python's kept flags (in every undo entry too: the search itself is
        // not undone here); later answers about the same id leave the editor's flags alone.
        readBoxes() {
            const field = fieldOf(IA.ids.boxes);
            const text = field ? field.value : "";
            if (text === this.boxesText) return;
            const seen = this.boxesText;
            this.boxesText = text;
            let data = null;
            try {
                data = text ? JSON.parse(text) : null;
            } catch (err) {
                data = null;
            }
            const im = this.image;
            if (!data || !Array.isArray(data.boxes) || !im || data.image_size[0] !== im.naturalWidth || data.image_size[1] !== im.naturalHeight) {
                this.textBoxes = null;
                this.state.text = null;
            } else {
                let old = null;
                try { old = seen ? JSON.parse(seen) : null; } catch (err) { old = null; }
                if (old && old.id === data.id && !this.textBoxes) return; // dropped here (Clear, new picture)
                this.textBoxes = { id: data.id, boxes: data.boxes };
                if (!this.state.text || this.state.text.id !== data.id) {
                    const fresh = () => ({ id: data.id, kept: data.boxes.map((b) => !!b.kept) });
                    this.state.text = fresh();
                    for (const snap of this.undoStack.concat(this.redoStack)) snap.text = fresh();
                }
            }
            this.requestRender();
        }

        resetState() {
            this.textBoxes = null;
            this.state = { points: [], box: null, strokes: [], text: null };
            this.undoStack = [];
            this.redoStack = [];
            this.pending.clear();
            this.drag = null;
        }

        eventFor(kind) {
            const st = this.state;
            return {
                version: 1, kind: kind, image_size: [this.image.naturalWidth, this.image.naturalHeight],
                points: st.points.map((p) => [p[0], p[1], p[2]]),
                box: st.box ? st.box.slice() : null,
                strokes: st.strokes.map((s) => ({ mode: s.mode, radius: s.radius, points: s.points })),
                text: st.text ? { id: st.text.id, kept: st.text.kept.slice() } : null,
                seq: ++this.seq,
            };
        }

        emit(kind) {
            this.hoverPolys = null;
            this.requestRender();
            if (!this.image) return;
            this.watch(4000);
            this.lastEvent = this.eventFor(kind);
            sendEvent(this.lastEvent);
        }

        // ---------------------------------------------------------------- layers from Python
        checkLayer(name, container) {
            const img = container ? container.querySelector("img") : null;
            const src = (img && img.getAttribute("src") && img.src) || "";
            if (src === (this.sources[name] || "")) return;
            this.sources[name] = src;
            if (!src) {
                this.setLayer(name, null);
                return;
            }
            loadImage(src).then((im) => {
                if (this.sources[name] === src) this.setLayer(name, im);
            }, (err) => console.warn(err.message));
        }

        setLayer(name, im) {
            if (name === "image") {
                const sig = im ? signature(im) : "";
                if (sig !== this.imageSig) {
                    this.imageSig = sig;
                    this.resetState();
                    this.sam = null;
                    this.hoverPolys = null;
                    this.watch(5000);
                    this.image = im;
                    this.view.fitted = true;
                    this.fit();
                } else {
                    this.image = im;
                }
            } else if (name === "segments") {
                this.segments = im;
            } else if (name === "mask") {
                this.maskImage = im;
                this.maskVersion += 1;
                this.pending.clear();
                this.recolorMask();
                this.readBoxes(); // the boxes come with the same answer
            }
            this.requestRender();
        }

        recolorMask() {
            const im = this.maskImage;
            if (!im) {
                this.maskOverlay = null;
                return;
            }
            const w = this.image ? this.image.naturalWidth : im.naturalWidth;
            const h = this.image ? this.image.naturalHeight : im.naturalHeight;
            const c = el("canvas");
            c.width = w;
            c.height = h;
            const ctx = c.getContext("2d", { willReadFrequently: true });
            ctx.imageSmoothingEnabled = false;
            ctx.drawImage(im, 0, 0, w, h);
            let data;
            try {
                data = ctx.getImageData(0, 0, w, h);
            } catch (err) { // cross-origin: show the grey mask as it is
                this.maskOverlay = c;
                this.maskArea = 0;
                return;
            }
            const px = data.data;
            const [r, g, b] = this.colors().mask;
            let count = 0;
            for (let i = 0; i < px.length; i += 4) {
                const on = px[i] > 127 && px[i + 3] > 127;
                px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = on ? 255 : 0;
                if (on) count += 1;
            }
            ctx.putImageData(data, 0, 0);
            this.maskOverlay = c;
            this.maskArea = count;
        }

        colors() {
            return this.dark ? COLORS.dark : COLORS.light;
        }

        // ---------------------------------------------------------------- input
        onDown(e) {
            if (!this.image) {
                if (e.button === 0) chooseFile();
                return;
            }
            this.el.focus({ preventScroll: true });
            const p = this.pointer(e);
            if (e.button === 1 || (e.button === 0 && this.spaceDown)) {
                e.preventDefault();
                this.canvas.setPointerCapture(e.pointerId);
                this.drag = { type: "pan", bx: p.bx, by: p.by, ox: this.view.ox, oy: this.view.oy };
                this.el.classList.add("ia-panning");
                return;
            }
            if (e.button !== 0) return;
            e.preventDefault();
            const hit = this.textHitAt(p);
            if (hit >= 0) {
                this.toggleTextBox(hit);
                return;
            }
            this.canvas.setPointerCapture(e.pointerId);
            const t = this.tool;
            if (t === "point_add" || t === "point_remove") {
                this.drag = { type: "point", bx: p.bx, by: p.by, label: t === "point_add" ? 1 : 0 };
            } else if (t === "box") {
                this.drag = { type: "box", x0: p.x, y0: p.y, x1: p.x, y1: p.y };
            } else {
                const stroke = { mode: STROKE_MODE[t], radius: this.brush, points: [[round2(p.x - 0.5), round2(p.y - 0.5)]], id: ++this.strokeId };
                this.drag = { type: "stroke", stroke: stroke, bx: p.bx, by: p.by };
            }
            this.requestRender();
        }

        textHitAt(p) {
            const hit = this.textBoxes ? this.textHits.find((h) => p.bx >= h.x && p.bx <= h.x + h.w && p.by >= h.y && p.by <= h.y + h.h) : null;
            return hit && !this.drag ? hit.i : -1;
        }

        onMove(e) {
            const p = this.pointer(e);
            this.hover = p;
            this.canvas.classList.toggle("ia-cv-over-label", this.textHitAt(p) >= 0);
            if (this.hoverWanted()) this.requestHover();
            else this.hoverPolys = null;
            const d = this.drag;
            if (d && d.type === "pan") {
                this.view = { s: this.view.s, ox: d.ox + p.bx - d.bx, oy: d.oy + p.by - d.by, fitted: false };
            } else if (d && d.type === "box") {
                d.x1 = p.x;
                d.y1 = p.y;
            } else if (d && d.type === "stroke") {
                const dpr = window.devicePixelRatio || 1;
                if (Math.hypot(p.bx - d.bx, p.by - d.by) >= 2 * dpr) {
                    d.stroke.points.push([round2(p.x - 0.5), round2(p.y - 0.5)]);
                    d.bx = p.bx;
                    d.by = p.by;
                }
            }
            this.requestRender();
        }

        onUp(e) {
            const d = this.drag;
            this.drag = null;
            this.el.classList.remove("ia-panning");
            if (!d || !this.image) return;
            const p = this.pointer(e);
            const iw = this.image.naturalWidth, ih = this.image.naturalHeight;
            if (d.type === "point") {
                const moved = Math.hypot(p.bx - d.bx, p.by - d.by) > 6 * (window.devicePixelRatio || 1);
                if (!moved && this.inside(p)) {
                    this.change("click", (st) => st.points.push([round2(p.x - 0.5), round2(p.y - 0.5), d.label]));
                }
            } else if (d.type === "box") {
                d.x1 = p.x;
                d.y1 = p.y;
                const xs = [d.x0, d.x1].map((v) => clamp(round2(v - 0.5), 0, iw - 1)).sort((a, b) => a - b);
                const ys = [d.y0, d.y1].map((v) => clamp(round2(v - 0.5), 0, ih - 1)).sort((a, b) => a - b);
                if (xs[1] - xs[0] >= 2 && ys[1] - ys[0] >= 2) {
                    this.change("box", (st) => { st.box = [xs[0], ys[0], xs[1], ys[1]]; });
                }
            } else if (d.type === "stroke") {
                const s = d.stroke;
                const last = s.points[s.points.length - 1], end = [round2(p.x - 0.5), round2(p.y - 0.5)];
                if (last[0] !== end[0] || last[1] !== end[1]) s.points.push(end);
                if (s.mode !== "scribble") this.pending.add(s.id);
                this.change(s.mode === "scribble" ? "scribble" : "brush", (st) => st.strokes.push(s));
            }
            this.requestRender();
        }

        onWheel(e) {
            if (!this.image) return;
            e.preventDefault();
            const p = this.pointer(e);
            const dy = e.deltaMode === 1 ? e.deltaY * 33 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
            this.zoomAt(p.bx, p.by, Math.exp(-dy * 0.0015));
        }

        active() {
            return this.over || this.el.contains(document.activeElement);
        }

        onKey(e, down) {
            if (e.key === " " && !down) {
                this.spaceDown = false;
                return;
            }
            if (!down || !this.el.isConnected || !this.active()) return;
            const t = e.target;
            const typing = t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) || (t.tagName === "INPUT" && !/^(range|checkbox|button)$/.test(t.type)));
            if (typing) return;
            const mod = e.ctrlKey || e.metaKey;
            const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
            if (mod && k === "z") {
                if (e.shiftKey) this.redo();
                else this.undo();
            } else if (mod && k === "y") {
                this.redo();
            } else if (!mod && (k === "[" || k === "]")) {
                const f = k === "]" ? 1.2 : 1 / 1.2;
                this.setBrush(k === "]" ? Math.max(this.brush + 1, this.brush * f) : Math.min(this.brush - 1, this.brush * f));
            } else if (k === " " && this.over) {
                this.spaceDown = true;
            } else {
                return;
            }
            e.preventDefault();
            e.stopPropagation();
        }

        // ---------------------------------------------------------------- SAM state and hover
        watch(ms) {
            this.watchUntil = Math.max(this.watchUntil, Date.now() + ms);
            this.pollSam();
        }

        // Ask how SAM's preparation goes while it is pending, and for a while after a new picture,
        // a click or the pointer entering (the model or "Select with" may have changed meanwhile).
        pollSam() {
            if (!this.image || !this.el.isConnected || this.el.offsetParent === null) return;
            const pending = this.sam && this.sam.embedding === "pending";
            if (!pending && Date.now() > this.watchUntil) return;
            if (!probes.inFlight && !probes.queued) this.probe(null);
        }

        probe(point) {
            if (!this.image) return;
            if (!point) this.statusProbeAt = Date.now();
            const sig = this.imageSig;
            sendProbe({ image_size: [this.image.naturalWidth, this.image.naturalHeight], point: point },
                (answer, sent) => this.onProbe(answer, sent, sig));
        }

        onProbe(answer, sent, sig) {
            if (sig !== this.imageSig) return; // an answer about the previous picture
            const was = this.sam ? this.sam.embedding : "";
            this.sam = answer;
            if (sent.point && answer.busy && answer.embedding === "ready") {
                // SAM is held by other work: keep the outline shown, ask again shortly
                if (!this.hoverWanted()) this.hoverPolys = null;
                else if (!this.hoverTimer) this.hoverTimer = setTimeout(() => { this.hoverTimer = 0; if (this.hoverWanted()) this.requestHover(); }, 4 * HOVER_EVERY_MS);
            } else if (sent.point) {
                this.hoverPolys = answer.hover && this.hoverWanted() ? answer.hover.polygons : null;
                this.hoverFor = this.hoverPolys ? sent.point : null;
            }
            else if (answer.embedding === "ready" && was !== "ready" && this.hoverWanted()) this.requestHover();
            this.requestRender();
        }

        // The Click tool over the picture, before the first click or box: what would a click select?
        hoverWanted() {
            const t = this.tool, st = this.state, h = this.hover;
            return !!(this.image && this.over && h && this.inside(h) && (t === "point_add" || t === "point_remove")
                && !st.points.length && !st.box && !this.drag && !this.spaceDown);
        }

        requestHover() {
            const a = this.sam;
            if (!a || a.embedding !== "ready") {
                if (Date.now() - this.statusProbeAt > 1000) this.probe(null); // ready meanwhile?
                return;
            }
            if (a.hover_off) return;
            const wait = HOVER_EVERY_MS - (Date.now() - this.hoverAt);
            if (wait > 0) {
                if (!this.hoverTimer) this.hoverTimer = setTimeout(() => { this.hoverTimer = 0; if (this.hoverWanted()) this.requestHover(); }, wait);
                return;
            }
            this.hoverAt = Date.now();
            const h = this.hover;
            this.probe([round2(h.x - 0.5), round2(h.y - 0.5)]);
        }

        samText() {
            const a = this.sam;
            if (!a || a.embedding === "none") return a && a.error ? ` \u00b7 ${a.error}` : "";
            const name = a.model || "SAM";
            if (a.embedding === "pending") return ` \u00b7 preparing ${name}\u2026 ${Math.round((a.progress || 0) * 100)} %`;
            if (a.embedding === "failed") return ` \u00b7 ${name} failed: ${a.error || "see the console"}`;
            const clickTool = this.tool === "point_add" || this.tool === "point_remove";
            return ` \u00b7 ${name} ready` + (a.hover_off && clickTool ? ` (${a.hover_off})` : "");
        }

        drawHover(ctx, v, dpr) {
            const polys = this.hoverPolys;
            if (!polys || !polys.length || !this.hoverWanted()) return;
            const [r, g, b] = this.colors().mask;
            ctx.beginPath();
            for (const poly of polys) {
                if (poly.length < 4) continue;
                ctx.moveTo(poly[0], poly[1]);
                for (let i = 2; i < poly.length; i += 2) ctx.lineTo(poly[i], poly[i + 1]);
                ctx.closePath();
            }
            ctx.fillStyle = `rgba(${r},${g},${b},0.16)`;
            ctx.fill("evenodd");
            ctx.lineWidth = (3 * dpr) / v.s;
            ctx.strokeStyle = "rgba(255,255,255,0.85)";
            ctx.stroke();
            ctx.lineWidth = (1.5 * dpr) / v.s;
            ctx.strokeStyle = `rgb(${r},${g},${b})`;
            ctx.stroke();
        }

        // ---------------------------------------------------------------- drawing
        requestRender() {
            if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
        }

        pathStroke(ctx, s) {
            ctx.beginPath();
            ctx.lineWidth = 2 * s.radius;
            const pts = s.points;
            if (pts.length === 1) {
                ctx.arc(pts[0][0] + 0.5, pts[0][1] + 0.5, s.radius, 0, 2 * Math.PI);
                ctx.fill();
                return;
            }
            ctx.moveTo(pts[0][0] + 0.5, pts[0][1] + 0.5);
            for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0] + 0.5, pts[i][1] + 0.5);
            ctx.stroke();
        }

        drawStroke(ctx, s) {
            const col = this.colors();
            const [r, g, b] = col.mask;
            const style = s.mode === "scribble" ? col.scribble : s.mode === "add" ? `rgba(${r},${g},${b},0.55)` : "rgba(128,128,128,0.6)";
            ctx.strokeStyle = style;
            ctx.fillStyle = style;
            this.pathStroke(ctx, s);
        }

        render() {
            this.frame = 0;
            const dark = isDark();
            if (dark !== this.dark) {
                this.dark = dark;
                this.el.classList.toggle("ia-dark", dark);
                this.recolorMask();
            }
            const c = this.canvas, ctx = this.ctx, col = this.colors();
            const dpr = window.devicePixelRatio || 1;
            ctx.setTransform(1, 0, 0, 1, 0, 0);
            ctx.globalAlpha = 1;
            ctx.fillStyle = col.bg;
            ctx.fillRect(0, 0, c.width, c.height);
            if (!this.image) {
                ctx.fillStyle = col.text;
                ctx.font = `${14 * dpr}px sans-serif`;
                ctx.textAlign = "center";
                ctx.fillText("Drop an image here, paste one (Ctrl+V), or click to choose a file", c.width / 2, c.height / 2);
                this.status.textContent = "No image";
                return;
            }
            const v = this.view, iw = this.image.naturalWidth, ih = this.image.naturalHeight;
            ctx.setTransform(v.s, 0, 0, v.s, v.ox, v.oy);
            ctx.imageSmoothingEnabled = v.s < 2;
            ctx.drawImage(this.image, 0, 0, iw, ih);
            if (this.segments && this.showSegments && this.segOpacity > 0) {
                ctx.globalAlpha = this.segOpacity;
                ctx.drawImage(this.segments, 0, 0, iw, ih);
            }
            if (this.maskOverlay && this.showMask && this.maskOpacity > 0) {
                ctx.globalAlpha = this.maskOpacity;
                ctx.drawImage(this.maskOverlay, 0, 0, iw, ih);
            }
            ctx.globalAlpha = 1;
            ctx.lineCap = "round";
            ctx.lineJoin = "round";
            this.drawHover(ctx, v, dpr);
            for (const s of this.state.strokes) {
                if (s.mode === "scribble" || this.pending.has(s.id)) this.drawStroke(ctx, s);
            }
            const d = this.drag;
            if (d && d.type === "stroke") this.drawStroke(ctx, d.stroke);
            ctx.setTransform(1, 0, 0, 1, 0, 0);
            const toB = (x, y) => [(x + 0.5) * v.s + v.ox, (y + 0.5) * v.s + v.oy];
            const box = d && d.type === "box" ? [d.x0 - 0.5, d.y0 - 0.5, d.x1 - 0.5, d.y1 - 0.5] : this.state.box;
            if (box) {
                const [x0, y0] = toB(box[0], box[1]), [x1, y1] = toB(box[2], box[3]);
                ctx.setLineDash([6 * dpr, 4 * dpr]);
                ctx.lineWidth = 2 * dpr;
                ctx.strokeStyle = col.box;
                ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
                ctx.setLineDash([]);
            }
            this.drawTextBoxes(ctx, toB, col, dpr);
            for (const [x, y, label] of this.state.points) {
                const [bx, by] = toB(x, y), r = 6 * dpr;
                ctx.beginPath();
                ctx.arc(bx, by, r, 0, 2 * Math.PI);
                ctx.fillStyle = label ? "#16a34a" : "#dc2626";
                ctx.fill();
                ctx.lineWidth = 2 * dpr;
                ctx.strokeStyle = "#ffffff";
                ctx.stroke();
                ctx.beginPath();
                ctx.moveTo(bx - r * 0.5, by);
                ctx.lineTo(bx + r * 0.5, by);
                if (label) {
                    ctx.moveTo(bx, by - r * 0.5);
                    ctx.lineTo(bx, by + r * 0.5);
                }
                ctx.lineWidth = 1.5 * dpr;
                ctx.stroke();
            }
            const h = this.hover;
            if (h && STROKE_MODE[this.tool] && !this.spaceDown && !(d && d.type === "pan")) {
                ctx.beginPath();
                ctx.arc(h.bx, h.by, Math.max(this.brush * v.s, 1), 0, 2 * Math.PI);
                ctx.lineWidth = 1 * dpr;
                ctx.strokeStyle = dark ? "#ffffff" : "#111111";
                ctx.stroke();
            }
            const k = this.scale().kx || 1;
            const where = h && this.inside(h) ? ` \u00b7 x ${Math.floor(h.x)}, y ${Math.floor(h.y)}` : "";
            this.status.textContent = `${iw}\u00d7${ih} \u00b7 zoom ${Math.round((v.s / k) * 100)}%${where}${this.samText()}`;
        }

        // The "Select by text" boxes in screen space (constant line width and label size at any
        // zoom): kept ones solid in the theme's box colour, switched-off ones dashed and grey. Each
        // label (check box, phrase, score) sits above its box, inside the canvas, below earlier labels
        // it would overlap; its rectangle is remembered for clicks.
        drawTextBoxes(ctx, toB, col, dpr) {
            this.textHits = [];
            const tb = this.textBoxes;
            if (!tb) return;
            const st = this.state.text, c = this.canvas;
            const fs = 12 * dpr, pad = 4 * dpr, h = 18 * dpr, check = 10 * dpr;
            ctx.font = `600 ${fs}px sans-serif`;
            ctx.textAlign = "left";
            ctx.textBaseline = "middle";
            tb.boxes.forEach((b, i) => {
                const kept = st && st.id === tb.id ? st.kept[i] : b.kept;
                const color = kept ? col.box : col.off;
                const [x0, y0] = toB(b.box[0] - 0.5, b.box[1] - 0.5), [x1, y1] = toB(b.box[2] + 0.5, b.box[3] + 0.5);
                ctx.setLineDash(kept ? [] : [5 * dpr, 4 * dpr]);
                ctx.lineWidth = 2 * dpr;
                ctx.strokeStyle = color;
                ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
                ctx.setLineDash([]);
                if (x1 < 0 || y1 < 0 || x0 > c.width || y0 > c.height) return; // zoomed away: no label
                const text = `${b.label} ${Number(b.score).toFixed(2)}`;
                const w = pad * 3 + check + ctx.measureText(text).width;
                const x = clamp(x0 - 1 * dpr, 0, Math.max(0, c.width - w));
                let y = clamp(y0 - h, 0, Math.max(0, c.height - h));
                for (const o of this.textHits) {
                    if (x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h) y = Math.min(o.y + o.h + dpr, c.height - h);
                }
                ctx.globalAlpha = kept ? 0.95 : 0.8;
                ctx.fillStyle = color;
                ctx.fillRect(x, y, w, h);
                ctx.globalAlpha = 1;
                const cx = x + pad, cy = y + (h - check) / 2;
                ctx.lineWidth = 1.5 * dpr;
                ctx.strokeStyle = col.label;
                ctx.strokeRect(cx, cy, check, check);
                if (kept) {
                    ctx.beginPath();
                    ctx.moveTo(cx + check * 0.2, cy + check * 0.55);
                    ctx.lineTo(cx + check * 0.42, cy + check * 0.78);
                    ctx.lineTo(cx + check * 0.82, cy + check * 0.25);
                    ctx.stroke();
                }
                ctx.fillStyle = col.label;
                ctx.fillText(text, cx + check + pad, y + h / 2 + 0.5 * dpr);
                this.textHits.push({ i: i, x: x, y: y, w: w, h: h });
            });
        }

        // The text boxes for info(): image boxes, labels, kept flags and label rectangles (client px).
        textInfo() {
            const tb = this.textBoxes;
            if (!tb) return [];
            const st = this.state.text, { r, kx, ky } = this.scale();
            return tb.boxes.map((b, i) => {
                const hit = this.textHits.find((t) => t.i === i);
                return {
                    box: b.box.slice(), label: b.label, score: b.score, kept: st && st.id === tb.id ? st.kept[i] : !!b.kept,
                    labelRect: hit ? { x: r.left + hit.x / kx, y: r.top + hit.y / ky, w: hit.w / kx, h: hit.h / ky } : null,
                };
            });
        }

        // A plain-data view for tests and debugging.
        info() {
            return {
                tool: this.tool, brush: this.brush, seq: this.seq, view: Object.assign({}, this.view),
                image: this.image ? [this.image.naturalWidth, this.image.naturalHeight] : null,
                segments: !!this.segments, mask: !!this.maskImage, maskVersion: this.maskVersion, maskArea: this.maskArea || 0,
                state: this.snapshot(), undo: this.undoStack.length, redo: this.redoStack.length, dark: !!this.dark,
                lastEvent: this.lastEvent, inFlight: events.inFlight, queued: !!events.queued,
                sam: this.sam, hoverPolys: this.hoverPolys, hoverFor: this.hoverPolys ? this.hoverFor : null, probesSent: probes.sent,
                textId: this.textBoxes ? this.textBoxes.id : null, textBoxes: this.textInfo(),
            };
        }
    }

    IA.Editor = Editor;
})();
