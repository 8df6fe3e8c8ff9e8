// Inpaint Anything front end, file 0 of 6: the namespace and the helpers every other file uses.
//
// Everything lives under one global namespace, window.InpaintAnything ("IA" in the code), so
// nothing collides with the WebUI or other extensions; element ids and classes are prefixed
// ia_ / ia-. No dependencies, no build step; works with gradio 3.41 (A1111) and 4.40 (Forge).
//
// The front end is split into files that run in sorted filename order, each as its own script in
// the global scope: the WebUI (A1111 and Forge) loads an extension's javascript/*.js that way, and
// the standalone app concatenates the same files in the same order (inpaint_anything/ui/compat.py,
// asset_js). So each file is an IIFE that takes the namespace, reads what earlier files put there
// at load time, and adds its own part; nothing else becomes global. Each file returns early if its
// part is there already, so running the set twice is harmless. Nothing needs the DOM at load time:
// the editor is mounted by a poll (file 5).
//
//   0_core      namespace, element ids, DOM and image helpers (this file)
//   1_bridge    JS -> Python: canvas events + acks, probes, uploads into the input image
//   2_editor    the mask editor (class Editor): tools, undo, drawing, SAM status and hover outline
//   3_compare   the latest result's before/after view (IA.compare)
//   4_crosstab  tabs (IA.reveal), "Send to Inpaint Anything" from the host's galleries, tooltips
//   5_mount     mounting the editor and compare view, watching the layers Python shows (IA.canvas)
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.util) return;

    function root() {
        if (typeof gradioApp === "function") return gradioApp();
        const app = document.querySelector("gradio-app");
        return app && app.shadowRoot ? app.shadowRoot : document;
    }

    function byId(id) {
        const r = root();
        return r.getElementById ? r.getElementById(id) : r.querySelector("#" + id);
    }

    // The page's theme: gradio adds the "dark" class to <body> or the app root in dark mode.
    function isDark() {
        const els = [document.documentElement, document.body, document.querySelector("gradio-app"), document.querySelector(".gradio-container")];
        return els.some((el) => el && el.classList && el.classList.contains("dark"));
    }

    // elem_ids of the gradio components the front end reads and drives (inpaint_anything/ui/canvas.py
    // ELEM_IDS, results.py).
    const IDS = {
        root: "ia_canvas_root", events: "ia_canvas_events", submit: "ia_canvas_submit", ack: "ia_canvas_ack",
        probe: "ia_canvas_probe", probeSubmit: "ia_canvas_probe_submit", probeAnswer: "ia_canvas_probe_answer",
        image: "ia_layer_image", segments: "ia_layer_segments", mask: "ia_layer_mask", boxes: "ia_canvas_boxes",
        input: "ia_input_image", compare: "ia_compare_root", before: "ia_result_before", after: "ia_result_after",
    };

    const round2 = (v) => Math.round(v * 100) / 100;
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

    function el(tag, cls, attrs) {
        const node = document.createElement(tag);
        if (cls) node.className = cls;
        for (const [k, v] of Object.entries(attrs || {})) {
            if (k === "text") node.textContent = v;
            else node.setAttribute(k, v);
        }
        return node;
    }

    function loadImage(src) {
        return new Promise((resolve, reject) => {
            const im = new Image();
            im.onload = () => resolve(im);
            im.onerror = () => reject(new Error("Inpaint Anything: could not load " + src.slice(0, 60)));
            im.src = src;
        });
    }

    // The <textarea>/<input> of a gradio Textbox (the id is on its wrapper) or the field itself.
    function fieldOf(id) {
        const box = byId(id);
        return box && (box.matches("textarea, input") ? box : box.querySelector("textarea, input"));
    }

    // The <button> of a gradio Button: the id is on the button in gradio 3 and may be on a wrapper.
    function buttonIn(node) {
        return node && (node.tagName === "BUTTON" ? node : node.querySelector("button"));
    }

    IA.root = root;
    IA.byId = byId;
    IA.isDark = isDark;
    IA.ids = IDS;
    IA.util = { el: el, loadImage: loadImage, round2: round2, clamp: clamp, fieldOf: fieldOf, buttonIn: buttonIn };
})();
