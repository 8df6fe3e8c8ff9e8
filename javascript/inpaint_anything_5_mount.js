// Inpaint Anything front end, file 5 of 6: mounting, and the layers Python shows. Needs files 0-4;
// runs last because it starts the poll that brings everything to life (IA.canvas).
//
// * Mounting. A 400 ms poll looks for #ia_canvas_root (a gr.HTML) and attaches the editor's DOM to
//   its .ia-canvas-mount child whenever gradio (re)renders it; the compare view likewise. The
//   editor state lives in JS objects, so a re-render does not lose points or strokes. The poll also
//   means the scripts may run before the page is built (the WebUI loads them in <head>).
//
// * Python -> JS. Three hidden gr.Image components: #ia_layer_image (the picture), #ia_layer_segments
//   (colour segment map) and #ia_layer_mask (mask preview, > 127 = selected). gradio shows a value
//   as an <img> (a data: URL in gradio 3, a /file= URL in gradio 4). A MutationObserver on each
//   component (plus the poll, as a safety net) notices when that <img> appears, changes src or
//   disappears; the editor loads the same URL into an offscreen Image and redraws. The only DOM
//   assumption is "the component contains an <img> whose src is its value". The "Select by text"
//   boxes come as JSON in the hidden textbox #ia_canvas_boxes, read on this poll and whenever a
//   mask arrives (Editor.readBoxes).
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.canvas) return;
    const { byId, isDark, ids: IDS, Editor } = IA;
    const { buttonIn } = IA.util;
    const { sendEvent } = IA.bridge;

    // Our model dropdowns show the whole label as a tooltip (a narrow dropdown may cut it), and their
    // refresh buttons say what they rescan.
    function titleInputs() {
        for (const id of ["ia_sam_model", "ia_hub_model"]) {
            const box = byId(id);
            const input = box && box.querySelector("input");
            if (input && input.title !== input.value) input.title = input.value;
        }
        for (const [id, title] of [["ia_sam_refresh", "Rescan the models folder for SAM files"],
            ["ia_hub_refresh", "Rescan the models folder and the Hugging Face cache for inpainting models"]]) {
            const button = buttonIn(byId(id));
            if (button && !button.title) button.title = title;
        }
    }

    // ---------------------------------------------------------------- mounting and layer watching
    let editor = null;
    const watched = {};

    function watch(name) {
        const container = byId(IDS[name]);
        const w = watched[name];
        if (w && w.container === container) {
            editor.checkLayer(name, container);
            return;
        }
        if (w) w.observer.disconnect();
        if (!container) {
            delete watched[name];
            editor.checkLayer(name, null);
            return;
        }
        const observer = new MutationObserver(() => editor.checkLayer(name, container));
        observer.observe(container, { subtree: true, childList: true, attributes: true, attributeFilter: ["src"] });
        watched[name] = { container: container, observer: observer };
        editor.checkLayer(name, container);
    }

    function tick() {
        const host = byId(IDS.root);
        if (!host) return;
        if (document.body && !document.body.classList.contains("ia-wrap-toasts")) document.body.classList.add("ia-wrap-toasts");
        if (!editor) editor = new Editor();
        const mount = host.querySelector(".ia-canvas-mount") || host;
        editor.attach(mount);
        watch("image");
        watch("segments");
        watch("mask");
        editor.readBoxes();
        const dark = isDark();
        if (dark !== editor.dark) editor.requestRender();
        IA.compare.refresh();
        titleInputs();
    }

    setInterval(tick, 400);
    if (document.readyState !== "loading") tick();
    else document.addEventListener("DOMContentLoaded", tick);

    IA.canvas = {
        ids: IDS,
        editor: () => editor,
        info: () => (editor ? editor.info() : null),
        sendEvent: sendEvent,
        refresh: tick,
    };
})();
