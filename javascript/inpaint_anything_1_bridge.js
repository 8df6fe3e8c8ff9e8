// Inpaint Anything front end, file 1 of 6: how the page hands things to Python, using only ordinary
// gradio components (no gradio internals, no Svelte stores). Needs file 0.
//
// * Events (JS -> Python). Every editor action writes one JSON event into the hidden textbox
//   #ia_canvas_events, dispatches "input" so gradio stores the value, then (on the next task) clicks
//   the hidden button #ia_canvas_submit. The schema is documented in inpaint_anything/ui/canvas.py.
//   Events are snapshots of the whole prompt state (points, box, strokes): undo/redo happen in the
//   editor, so skipping intermediate events is harmless. Only one event is in flight at a time
//   (gradio 3 ignores clicks on a running listener): the Python wrapper writes the handled seq into
//   the hidden textbox #ia_canvas_ack, which we poll while waiting; then the newest queued event
//   goes out. Coordinates are IMAGE pixels with (0, 0) at the centre of the top-left pixel,
//   independent of zoom, pan, devicePixelRatio and CSS scaling.
//
// * Probes (JS <-> Python, not queued). The same way, a probe goes into #ia_canvas_probe and
//   #ia_canvas_probe_submit is clicked; the JSON answer appears in #ia_canvas_probe_answer. It says
//   how SAM's background preparation of the picture goes (shown in the editor's status line) and,
//   with the Click tool over the picture before the first click, carries the outline of the object
//   under the pointer (drawn as a light outline). One probe in flight; a newer one replaces a waiting one.
//
// * Uploads. A picture dropped or pasted on the editor goes into the input image component.
(function () {
    "use strict";
    const IA = window.InpaintAnything = window.InpaintAnything || {};
    if (IA.bridge) return;
    const { byId, ids: IDS } = IA;
    const { fieldOf, buttonIn } = IA.util;

    // One event in flight at a time: gradio 3 ignores a click on a listener that is still running
    // (gradio 4 with trigger_mode "once" too). The Python wrapper (CanvasComponents.on_event) writes
    // the seq it handled into the hidden textbox #ia_canvas_ack; when it changes, the newest queued
    // event (snapshots make older ones redundant) is sent. Without the ack textbox we send at once.
    const STALE_MS = 45000;
    const bridge = { inFlight: false, sentAt: 0, sentSeq: 0, sentText: "", ackText: "", queued: null, timer: 0 };

    function readAck() {
        const f = fieldOf(IDS.ack);
        return f ? f.value : null;
    }

    function submitEvent(text) {
        const field = fieldOf(IDS.events);
        const button = buttonIn(byId(IDS.submit));
        if (!field || !button) {
            console.warn("Inpaint Anything: the canvas event components are missing");
            return false;
        }
        field.value = text;
        field.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => button.click(), 0);
        return true;
    }

    function pump() {
        if (bridge.inFlight && Date.now() - bridge.sentAt < STALE_MS) return;
        bridge.inFlight = false;
        if (!bridge.queued) return;
        const { text, seq } = bridge.queued;
        bridge.queued = null;
        const ack = readAck();
        if (!submitEvent(text) || ack === null) return;
        Object.assign(bridge, { inFlight: true, sentAt: Date.now(), sentSeq: seq, sentText: text, ackText: ack });
        if (!bridge.timer) bridge.timer = setInterval(pollAck, 50);
    }

    function pollAck() {
        if (bridge.inFlight) {
            const ack = readAck();
            if (ack === bridge.ackText && Date.now() - bridge.sentAt < STALE_MS) return;
            bridge.inFlight = false;
            const acked = Number(ack);
            // An answer to an older event: ours was dropped, send it again.
            if (ack !== bridge.ackText && acked >= 0 && acked < bridge.sentSeq && !bridge.queued) {
                bridge.queued = { text: bridge.sentText, seq: bridge.sentSeq };
            }
        }
        if (bridge.queued) pump();
        if (!bridge.inFlight && !bridge.queued) {
            clearInterval(bridge.timer);
            bridge.timer = 0;
        }
    }

    function sendEvent(event) {
        bridge.queued = { text: JSON.stringify(event), seq: event.seq };
        pump();
    }

    // ---------------------------------------------------------------- probes
    // A probe unanswered for this long is given up (lost, or gradio dropped the click), so the next one can go.
    const PROBE_STALE_MS = 5000;
    const probes = { inFlight: null, sentAt: 0, queued: null, seq: 0, timer: 0, onAnswer: null, sent: 0 };

    function sendProbe(payload, onAnswer) {
        payload.version = 1;
        payload.seq = ++probes.seq;
        probes.queued = payload;
        probes.onAnswer = onAnswer;
        pumpProbe();
    }

    function pumpProbe() {
        if (probes.inFlight && Date.now() - probes.sentAt < PROBE_STALE_MS) return;
        probes.inFlight = null;
        const payload = probes.queued;
        const field = fieldOf(IDS.probe), button = buttonIn(byId(IDS.probeSubmit));
        if (!payload || !field || !button) return;
        probes.queued = null;
        field.value = JSON.stringify(payload);
        field.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => button.click(), 0);
        probes.inFlight = payload;
        probes.sentAt = Date.now();
        probes.sent += 1;
        if (!probes.timer) probes.timer = setInterval(pollProbe, 20);
    }

    function pollProbe() {
        const sent = probes.inFlight;
        if (sent) {
            const field = fieldOf(IDS.probeAnswer);
            let answer = null;
            try {
                answer = field && field.value ? JSON.parse(field.value) : null;
            } catch (err) {
                answer = null;
            }
            if (answer && answer.seq === sent.seq) {
                probes.inFlight = null;
                if (probes.onAnswer) probes.onAnswer(answer, sent);
            } else if (Date.now() - probes.sentAt < PROBE_STALE_MS) {
                return;
            }
            probes.inFlight = null;
        }
        if (probes.queued) pumpProbe();
        if (!probes.inFlight && !probes.queued) {
            clearInterval(probes.timer);
            probes.timer = 0;
        }
    }

    // ---------------------------------------------------------------- uploading onto the editor
    // The picture goes into the input image component (#ia_input_image) exactly as if it had been
    // chosen there: its <input type=file> gets the file and a change event, in gradio 3 and 4.
    function fileInput() {
        const box = byId(IDS.input);
        return box ? box.querySelector("input[type=file]") : null;
    }

    function clearInput() {
        const box = byId(IDS.input);
        const b = box && box.querySelector("button[aria-label='Clear'], button[title='Clear'], button[aria-label='Remove Image']");
        if (b) b.click();
        return !!b;
    }

    function whenInput(fn, tries) {
        const input = fileInput();
        if (input) return fn(input);
        if (tries === undefined && clearInput()) tries = 20;
        if (tries > 0) setTimeout(() => whenInput(fn, tries - 1), 100);
        else console.warn("Inpaint Anything: the image upload field is missing");
    }

    function uploadFile(file) {
        whenInput((input) => {
            const dt = new DataTransfer();
            dt.items.add(file);
            input.files = dt.files;
            input.dispatchEvent(new Event("change", { bubbles: true }));
        });
    }

    function chooseFile() {
        whenInput((input) => input.click());
    }

    // The queue states are exposed read-only, for the editor's info() and its "probe only when idle".
    IA.bridge = { sendEvent: sendEvent, sendProbe: sendProbe, events: bridge, probes: probes, upload: uploadFile, chooseFile: chooseFile };
    IA.upload = uploadFile;
})();
