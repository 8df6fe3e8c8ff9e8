"""Diffusers inpainting pipelines, loaded offline.

- :mod:`.detect` tells what a model path is (diffusers folder or single-file checkpoint, SD1/SD2/SDXL,
  inpainting or not) without loading weights.
- :mod:`.tokenizer` derives the CLIP tokenizer files from the BPE table open_clip ships.
- :mod:`.checkpoint` reads a single file's weights and repairs what the WebUI's loader copes with
  (float/broken ``position_ids``, older key names, EMA copies, SD2 in the SGM layout, a VAE next to the file).
- :mod:`.loader` loads a pipeline (``load_inpaint_pipeline``); :mod:`.cache` keeps loaded ones (``PipelineCache``).
- :mod:`.catalog` lists the models of the diffusers backend (Hub ids, ``<models>/diffusers``, the WebUI
  checkpoints folder of ``--ia-ckpt-dir``) by name, usable or not, with the reason.
- :mod:`.schedulers` maps WebUI sampler names to diffusers schedulers.
- ``configs/`` holds the small diffusers configs that single-file checkpoints need.
"""
