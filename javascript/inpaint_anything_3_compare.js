// Inpaint Anything front end, file 3 of 6: the latest result's before/after view (IA.compare).
// Needs file 0; file 5 mounts it (IA.compare.refresh) on every poll.
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.compare) return;
    const { byId, ids: IDS } = IA;
    const { el, loadImage, clamp } = IA.util;

    // Mounted into #ia_compare_root; shows #ia_result_after (the result) over #ia_result_before (its
    // input) with a slider for the split. Different sizes (outpainting): the result alone.
    class Compare {
        constructor() {
            this.el = el("div", "ia-cmp ia-cmp-empty");
            const head = el("div", "ia-cmp-head");
            this.title = el("span", "ia-cmp-title", { text: "Latest result" });
            this.size = el("span", "ia-cmp-size");
            this.rangeWrap = el("label", "ia-cmp-slider", { title: "Slide (or drag on the picture) to show the input on the left and the result on the right" });
            this.rangeWrap.appendChild(el("span", "", { text: "Compare with the input" }));
            this.range = el("input", "ia-cmp-range", { type: "range", min: "0", max: "100", step: "1" });
            this.range.value = "0";
            this.range.addEventListener("input", () => this.split());
            this.rangeWrap.append(this.range);
            this.link = el("a", "ia-cmp-download", { download: "inpaint-anything-result.png", text: "Download", title: "Download the result as PNG" });
            head.append(this.title, this.size, this.rangeWrap, this.link);
            this.stage = el("div", "ia-cmp-stage");
            this.after = el("img", "ia-cmp-after", { alt: "result" });
            this.before = el("img", "ia-cmp-before", { alt: "input" });
            this.line = el("div", "ia-cmp-line");
            this.stage.append(this.after, this.before, this.line);
            this.stage.addEventListener("pointerdown", (e) => { this.dragging = true; this.fromPointer(e); this.stage.setPointerCapture(e.pointerId); });
            this.stage.addEventListener("pointermove", (e) => { if (this.dragging) this.fromPointer(e); });
            this.stage.addEventListener("pointerup", () => { this.dragging = false; });
            this.el.append(head, this.stage);
            this.srcs = { before: "", after: "" };
            this.shown = 0;
        }

        attach(mount) {
            if (this.el.parentNode === mount) return;
            mount.textContent = "";
            mount.appendChild(this.el);
        }

        fromPointer(e) {
            const r = this.after.getBoundingClientRect();
            if (!r.width || this.el.classList.contains("ia-cmp-single")) return;
            this.range.value = String(Math.round(clamp((e.clientX - r.left) / r.width, 0, 1) * 100));
            this.split();
        }

        split() {
            const p = Number(this.range.value);
            this.before.style.clipPath = `inset(0 ${100 - p}% 0 0)`;
            this.line.style.left = p + "%";
            this.line.style.display = p > 0 && p < 100 ? "" : "none";
        }

        update() {
            const read = (id) => { const c = byId(id); const i = c && c.querySelector("img"); return (i && i.getAttribute("src") && i.src) || ""; };
            const after = read(IDS.after), before = read(IDS.before);
            if (after === this.srcs.after && before === this.srcs.before) return;
            this.srcs = { after: after, before: before };
            this.el.classList.toggle("ia-cmp-empty", !after);
            if (!after) return;
            Promise.all([loadImage(after), before ? loadImage(before).catch(() => null) : Promise.resolve(null)]).then(([a, b]) => {
                if (this.srcs.after !== after) return;
                this.after.src = after;
                this.link.href = after;
                const same = b && b.naturalWidth === a.naturalWidth && b.naturalHeight === a.naturalHeight;
                this.el.classList.toggle("ia-cmp-single", !same);
                if (same) this.before.src = before;
                else this.before.removeAttribute("src");
                this.size.textContent = same ? `${a.naturalWidth}\u00d7${a.naturalHeight}`
                    : (b ? `${b.naturalWidth}\u00d7${b.naturalHeight} \u2192 ${a.naturalWidth}\u00d7${a.naturalHeight}` : `${a.naturalWidth}\u00d7${a.naturalHeight}`);
                this.range.value = "0";
                this.split();
                this.shown += 1;
                const r = this.el.getBoundingClientRect();
                if (r.bottom > window.innerHeight) this.el.scrollIntoView({ block: r.height < window.innerHeight ? "end" : "start", behavior: "smooth" });
            }, (err) => console.warn(err.message));
        }

        info() {
            return { shown: this.shown, empty: this.el.classList.contains("ia-cmp-empty"), single: this.el.classList.contains("ia-cmp-single"),
                after: this.srcs.after ? [this.after.naturalWidth, this.after.naturalHeight] : null };
        }
    }
    let compare = null;

    function tickCompare() {
        const host = byId(IDS.compare);
        if (!host) return;
        if (!compare) compare = new Compare();
        compare.attach(host.querySelector(".ia-cmp-mount") || host);
        compare.update();
    }

    IA.compare = { info: () => (compare ? compare.info() : null), refresh: tickCompare };
})();
