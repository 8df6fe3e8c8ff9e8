// Inpaint Anything front end. Everything lives under one global namespace so nothing collides with
// the WebUI or other extensions; element ids and classes are prefixed with ia_ / ia-.
(function () {
    "use strict";
    if (window.InpaintAnything) return;

    function root() {
        return typeof gradioApp === "function" ? gradioApp() : document;
    }

    // The page's theme: gradio adds the "dark" class to <body> (or the app root) in dark mode.
    function isDark() {
        const app = root();
        return document.body.classList.contains("dark") || (app.classList && app.classList.contains("dark"));
    }

    window.InpaintAnything = { root: root, isDark: isDark };
})();
