"""``modules_forge.main_entry`` (Forge, stand-in subset): the checkpoint dropdown's handler.

``checkpoint_change`` sets ``sd_model_checkpoint`` (saved unless ``save=False``) and refreshes
``model_data.forge_loading_parameters`` from it, so the next generation (``forge_model_reload``)
loads that checkpoint; returns whether the checkpoint changed. Forge's API and ``process_images``
apply an ``sd_model_checkpoint`` override through it.
"""

from __future__ import annotations


def refresh_model_loading_parameters():
    from modules import sd_models

    sd_models.model_data.forge_loading_parameters = {
        "checkpoint_info": sd_models.select_checkpoint(),
        "additional_modules": [],
        "unet_storage_dtype": None,
    }


def checkpoint_change(ckpt_name, save=True, refresh=True):
    from modules import sd_models, shared

    new = sd_models.checkpoint_aliases.get(ckpt_name)
    current = sd_models.checkpoint_aliases.get(shared.opts.data.get("sd_model_checkpoint", ""))
    if new is not None and new is current:
        return False
    shared.opts.set("sd_model_checkpoint", ckpt_name)
    if save:
        shared.opts.save(shared.config_filename)
    if refresh:
        refresh_model_loading_parameters()
    return True
