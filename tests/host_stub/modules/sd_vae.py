"""``modules.sd_vae`` (v1.10.1 subset): the stand-in always uses the checkpoint's own VAE."""

from __future__ import annotations

base_vae = None
loaded_vae_file = None
checkpoint_info = None
vae_dict: dict = {}


def get_loaded_vae_name():
    return None


def get_loaded_vae_hash():
    return None


def reload_vae_weights(sd_model=None, vae_file=None):
    from modules import shared

    return sd_model or shared.sd_model
