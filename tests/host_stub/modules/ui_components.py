"""``modules.ui_components`` (v1.10.1): small gradio components (imports under gradio 3 and 4)."""

from __future__ import annotations

import functools

import gradio as gr

_GRADIO_MAJOR = int(gr.__version__.split(".")[0])


def _skip_pyi_for_webui_classes() -> None:
    """gradio 4 writes a .pyi next to every component subclass; like Forge, skip marked classes."""
    import gradio.component_meta as component_meta

    original = component_meta.create_or_modify_pyi
    if getattr(original, "webui_stub_guard", False):
        return

    def guarded(component_class, class_name, events):
        if hasattr(component_class, "webui_do_not_create_gradio_pyi_thank_you"):
            return None
        return original(component_class, class_name, events)

    guarded.webui_stub_guard = True
    component_meta.create_or_modify_pyi = guarded


if _GRADIO_MAJOR >= 4:
    _skip_pyi_for_webui_classes()
_Form = getattr(gr.components, "Form", None) or getattr(getattr(gr, "layouts", None), "Form", None)


class FormComponent:
    webui_do_not_create_gradio_pyi_thank_you = True

    def get_expected_parent(self):
        return _Form


gr.Dropdown.get_expected_parent = FormComponent.get_expected_parent


class ToolButton(FormComponent, gr.Button):
    """Small button with single emoji as text, fits inside gradio forms"""

    # gradio 4 lists a component's props from its __init__ signature (without the wrap the button
    # would lose its elem_id on the page) and binds positional arguments by the names in it (a bare
    # *args would lose the label); Forge's ToolButton is declared the same way.
    @functools.wraps(gr.Button.__init__)
    def __init__(self, value="", *args, elem_classes=None, **kwargs):
        super().__init__(*args, elem_classes=["tool", *(elem_classes or [])], value=value, **kwargs)

    def get_block_name(self):
        return "button"


class ResizeHandleRow(gr.Row):
    webui_do_not_create_gradio_pyi_thank_you = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.elem_classes.append("resize-handle-row")

    def get_block_name(self):
        return "row"


class FormRow(FormComponent, gr.Row):
    def get_block_name(self):
        return "row"


class FormColumn(FormComponent, gr.Column):
    def get_block_name(self):
        return "column"


class FormGroup(FormComponent, gr.Group):
    def get_block_name(self):
        return "group"


class FormHTML(FormComponent, gr.HTML):
    def get_block_name(self):
        return "html"


class FormColorPicker(FormComponent, gr.ColorPicker):
    def get_block_name(self):
        return "colorpicker"


class DropdownMulti(FormComponent, gr.Dropdown):
    def __init__(self, **kwargs):
        super().__init__(multiselect=True, **kwargs)

    def get_block_name(self):
        return "dropdown"


class DropdownEditable(FormComponent, gr.Dropdown):
    def __init__(self, **kwargs):
        super().__init__(allow_custom_value=True, **kwargs)

    def get_block_name(self):
        return "dropdown"


class InputAccordion(gr.Checkbox):
    """An accordion usable as an input (True when open): a hidden checkbox plus a gr.Accordion."""

    webui_do_not_create_gradio_pyi_thank_you = True
    global_index = 0

    def __init__(self, value, **kwargs):
        self.accordion_id = kwargs.get("elem_id")
        if self.accordion_id is None:
            self.accordion_id = f"input-accordion-{InputAccordion.global_index}"
            InputAccordion.global_index += 1
        super().__init__(value, **{**kwargs, "elem_id": f"{self.accordion_id}-checkbox", "visible": False})
        js = 'function(checked){ inputAccordionChecked("' + self.accordion_id + '", checked); }'
        js_kw = {"_js": js} if _GRADIO_MAJOR < 4 else {"js": js}
        self.change(fn=None, inputs=[self], **js_kw)
        self.accordion = gr.Accordion(
            **{
                **kwargs,
                "elem_id": self.accordion_id,
                "label": kwargs.get("label", "Accordion"),
                "elem_classes": ["input-accordion"],
                "open": value,
            }
        )

    def extra(self):
        return gr.Column(elem_id=self.accordion_id + "-extra", elem_classes="input-accordion-extra", min_width=0)

    def __enter__(self):
        self.accordion.__enter__()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.accordion.__exit__(exc_type, exc_val, exc_tb)

    def get_block_name(self):
        return "checkbox"
