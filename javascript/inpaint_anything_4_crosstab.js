// Inpaint Anything front end, file 4 of 6: tabs and the host's pages. Needs file 0.
// IA.reveal shows the tab holding an element (our own tab, or img2img/Extras when Python sends a
// picture there); IA.sendFromGallery is the click handler of the host's "Send to Inpaint Anything"
// buttons (inpaint_anything/ui/crosstab.py); the host's buttons of ours get their tooltips here.
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.reveal) return;
    const { root, byId, ids: IDS } = IA;
    const { buttonIn } = IA.util;

    // reveal(id): select every (nested) tab that holds the element #id, outermost first, by clicking
    // the tab's button in its .tab-nav; the WebUI's own tabs (#tabs > #tab_<id>) and sub-tabs
    // (#mode_img2img, #mode_extras) are plain gradio Tabs in both gradio versions. Works whatever the
    // tab order or hidden tabs are. Returns false when the element or a tab button is missing.
    function tabButton(item) {
        const own = item.id ? byId(item.id + "-button") : null; // gradio 4 gives tab buttons ids
        if (own && own.tagName === "BUTTON") return own;
        const tabs = item.parentElement;
        const nav = tabs && Array.from(tabs.children).find((c) => c.classList.contains("tab-nav"));
        if (!nav) return null;
        const items = Array.from(tabs.children).filter((c) => c.classList.contains("tabitem"));
        const index = items.indexOf(item);
        return index >= 0 ? nav.querySelectorAll("button")[index] || null : null;
    }

    function reveal(id) {
        const target = byId(id);
        if (!target) return false;
        const chain = [];
        for (let n = target.parentElement; n; n = n.parentElement) {
            if (n.classList && n.classList.contains("tabitem")) chain.unshift(n);
        }
        for (const item of chain) {
            const button = tabButton(item);
            if (!button) return false;
            if (item.style.display === "none" || !button.classList.contains("selected")) button.click();
        }
        return true;
    }

    // The picture a gallery shows as selected (or its first one), read from the URL the page shows
    // it with, as a data: URL. "" when the gallery is empty or missing.
    async function galleryImage(galleryId) {
        const gallery = byId(galleryId);
        if (!gallery) return "";
        const items = Array.from(gallery.querySelectorAll(".thumbnail-item"));
        const chosen = items.find((b) => b.classList.contains("selected")) || items[0];
        const img = chosen ? chosen.querySelector("img") : gallery.querySelector("img");
        const src = img && (img.currentSrc || img.src);
        if (!src) return "";
        const response = await fetch(src, { credentials: "same-origin" });
        if (!response.ok) throw new Error("HTTP " + response.status + " for the image");
        const blob = await response.blob();
        return await new Promise((resolve, reject) => {
            const reader = new FileReader();
            reader.onload = () => resolve(String(reader.result));
            reader.onerror = () => reject(new Error("the image could not be read"));
            reader.readAsDataURL(blob);
        });
    }

    // Click handler JS of the host's "Send to Inpaint Anything" buttons (inpaint_anything/ui/crosstab.py):
    // returns the data: URL ("" = nothing to send, "error:..." = failure) and shows our tab.
    async function sendFromGallery(galleryId) {
        try {
            const data = await galleryImage(galleryId);
            if (data) reveal(IDS.root);
            return data;
        } catch (err) {
            console.warn("Inpaint Anything: reading the gallery image failed", err);
            return "error:" + (err && err.message ? err.message : String(err));
        }
    }

    // The host's tool buttons show their purpose as a tooltip.
    const BUTTON_TITLES = { "_send_to_inpaint_anything": "Send image to the Inpaint Anything tab" };
    function titleButtons() {
        for (const [suffix, title] of Object.entries(BUTTON_TITLES)) {
            root().querySelectorAll(`[id$="${suffix}"]`).forEach((b) => {
                const button = buttonIn(b);
                if (button && !button.title) button.title = title;
            });
        }
    }

    setInterval(titleButtons, 2000);

    IA.reveal = reveal;
    IA.galleryImage = galleryImage;
    IA.sendFromGallery = sendFromGallery;
})();
