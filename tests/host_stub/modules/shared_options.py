"""``modules.shared_options`` (v1.10.1 subset): the host settings the stand-in reads, same defaults.

Components are left as None (the stand-in builds no Settings UI).
"""

from __future__ import annotations

import os

from modules.options import OptionInfo, categories, options_section
from modules.paths_internal import data_path, default_output_dir

restricted_opts = {
    "samples_filename_pattern",
    "directories_filename_pattern",
    "outdir_samples",
    "outdir_txt2img_samples",
    "outdir_img2img_samples",
    "outdir_extras_samples",
    "outdir_grids",
    "outdir_txt2img_grids",
    "outdir_save",
    "outdir_init_images",
    "temp_dir",
    "clean_temp_dir_at_start",
}

for _cat_id, _label in (
    ("sd", "Stable Diffusion"),
    ("ui", "User Interface"),
    ("system", "System"),
    ("postprocessing", "Postprocessing"),
    ("training", "Training"),
    ("saving", "Saving images"),
):
    categories.register_category(_cat_id, _label)

options_templates: dict = {}

options_templates.update(
    options_section(
        ("saving-images", "Saving images/grids", "saving"),
        {
            "samples_save": OptionInfo(True, "Always save all generated images"),
            "samples_format": OptionInfo("png", "File format for images"),
            "samples_filename_pattern": OptionInfo("", "Images filename pattern"),
            "save_images_add_number": OptionInfo(True, "Add number to filename when saving"),
            "save_images_replace_action": OptionInfo("Replace", "Saving the image to an existing file"),
            "grid_save": OptionInfo(True, "Always save all generated image grids"),
            "grid_format": OptionInfo("png", "File format for grids"),
            "grid_extended_filename": OptionInfo(False, "Add extended info (seed, prompt) to filename when saving grid"),
            "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture"),
            "grid_prevent_empty_spots": OptionInfo(False, "Prevent empty spots in grid (when set to autodetect)"),
            "grid_background_color": OptionInfo("#ffffff", "Background color for image grids"),
            "n_rows": OptionInfo(-1, "Grid row count; use -1 for autodetect and 0 for it to be same as batch size"),
            "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image"),
            "save_txt": OptionInfo(False, "Create a text file with infotext next to every generated image"),
            "save_images_before_face_restoration": OptionInfo(False, "Save a copy of image before doing face restoration."),
            "save_images_before_color_correction": OptionInfo(False, "Save a copy of image before applying color correction"),
            "save_mask": OptionInfo(False, "For inpainting, save a copy of the greyscale mask"),
            "save_mask_composite": OptionInfo(False, "For inpainting, save a masked composite"),
            "jpeg_quality": OptionInfo(80, "Quality for saved jpeg and avif images"),
            "webp_lossless": OptionInfo(False, "Use lossless compression for webp images"),
            "export_for_4chan": OptionInfo(True, "Save copy of large images as JPG"),
            "img_downscale_threshold": OptionInfo(4.0, "File size limit for the above option, MB"),
            "target_side_length": OptionInfo(4000, "Width/height limit for the above option, in pixels"),
            "save_init_img": OptionInfo(False, "Save init images when using img2img"),
            "save_incomplete_images": OptionInfo(False, "Save incomplete images"),
        },
    )
)

options_templates.update(
    options_section(
        ("saving-paths", "Paths for saving", "saving"),
        {
            "outdir_samples": OptionInfo("", "Output directory for images; if empty, defaults to three directories below"),
            "outdir_txt2img_samples": OptionInfo(
                os.path.join(default_output_dir, "txt2img-images"), "Output directory for txt2img images"
            ),
            "outdir_img2img_samples": OptionInfo(
                os.path.join(default_output_dir, "img2img-images"), "Output directory for img2img images"
            ),
            "outdir_extras_samples": OptionInfo(
                os.path.join(default_output_dir, "extras-images"), "Output directory for images from extras tab"
            ),
            "outdir_grids": OptionInfo("", "Output directory for grids; if empty, defaults to two directories below"),
            "outdir_txt2img_grids": OptionInfo(
                os.path.join(default_output_dir, "txt2img-grids"), "Output directory for txt2img grids"
            ),
            "outdir_img2img_grids": OptionInfo(
                os.path.join(default_output_dir, "img2img-grids"), "Output directory for img2img grids"
            ),
            "outdir_save": OptionInfo(
                os.path.join(data_path, "log", "images"), "Directory for saving images using the Save button"
            ),
            "outdir_init_images": OptionInfo(
                os.path.join(default_output_dir, "init-images"), "Directory for saving init images when using img2img"
            ),
        },
    )
)

options_templates.update(
    options_section(
        ("saving-to-dirs", "Saving to a directory", "saving"),
        {
            "save_to_dirs": OptionInfo(True, "Save images to a subdirectory"),
            "grid_save_to_dirs": OptionInfo(True, "Save grids to a subdirectory"),
            "use_save_to_dirs_for_ui": OptionInfo(False, 'When using "Save" button, save images to a subdirectory'),
            "directories_filename_pattern": OptionInfo("[date]", "Directory name pattern"),
            "directories_max_prompt_words": OptionInfo(8, "Max prompt words for [prompt_words] pattern"),
        },
    )
)

options_templates.update(
    options_section(
        ("upscaling", "Upscaling", "postprocessing"), {"upscaler_for_img2img": OptionInfo(None, "Upscaler for img2img")}
    )
)

options_templates.update(
    options_section(
        ("face-restoration", "Face restoration", "postprocessing"),
        {
            "face_restoration": OptionInfo(False, "Restore faces", infotext="Face restoration"),
            "face_restoration_model": OptionInfo("CodeFormer", "Face restoration model"),
        },
    )
)

options_templates.update(
    options_section(
        ("system", "System", "system"),
        {
            "memmon_poll_rate": OptionInfo(8, "VRAM usage polls per second during generation."),
            "samples_log_stdout": OptionInfo(False, "Always print all generation info to standard output"),
            "multiple_tqdm": OptionInfo(True, "Add a second progress bar to the console that shows progress for an entire job."),
            "enable_upscale_progressbar": OptionInfo(True, "Show a progress bar in the console for tiled upscaling."),
        },
    )
)

options_templates.update(
    options_section(
        ("profiler", "Profiler", "system"),
        {
            "profiling_enable": OptionInfo(False, "Enable profiling"),
            "profiling_filename": OptionInfo("trace.json", "Profile filename"),
        },
    )
)

options_templates.update(
    options_section(
        ("sd", "Stable Diffusion", "sd"),
        {
            "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint", infotext="Model hash"),
            "sd_checkpoints_limit": OptionInfo(1, "Maximum number of checkpoints loaded at the same time"),
            "sd_unet": OptionInfo("Automatic", "SD Unet", infotext="SD UNet"),
            "enable_quantization": OptionInfo(False, "Enable quantization in K samplers for sharper and cleaner results."),
            "emphasis": OptionInfo("Original", "Emphasis mode", infotext="Emphasis"),
            "enable_batch_seeds": OptionInfo(
                True, "Make K-diffusion samplers produce same images in a batch as when making a single image"
            ),
            "comma_padding_backtrack": OptionInfo(20, "Prompt word wrap length limit"),
            "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip", infotext="Clip skip"),
            "upcast_attn": OptionInfo(False, "Upcast cross attention layer to float32"),
            "randn_source": OptionInfo("GPU", "Random number generator source.", infotext="RNG"),
            "tiling": OptionInfo(False, "Tiling", infotext="Tiling"),
            "hires_fix_refiner_pass": OptionInfo(
                "second pass", "Hires fix: which pass to enable refiner for", infotext="Hires refiner"
            ),
        },
    )
)

options_templates.update(
    options_section(
        ("vae", "VAE", "sd"),
        {
            "sd_vae": OptionInfo("Automatic", "SD VAE", infotext="VAE"),
            "sd_vae_overrides_per_model_preferences": OptionInfo(True, "Selected VAE overrides per-model preferences"),
            "auto_vae_precision_bfloat16": OptionInfo(False, "Automatically convert VAE to bfloat16"),
            "auto_vae_precision": OptionInfo(True, "Automatically revert VAE to 32-bit floats"),
            "sd_vae_encode_method": OptionInfo("Full", "VAE type for encode", infotext="VAE Encoder"),
            "sd_vae_decode_method": OptionInfo("Full", "VAE type for decode", infotext="VAE Decoder"),
        },
    )
)

options_templates.update(
    options_section(
        ("img2img", "img2img", "sd"),
        {
            "inpainting_mask_weight": OptionInfo(
                1.0, "Inpainting conditioning mask strength", infotext="Conditional mask weight"
            ),
            "initial_noise_multiplier": OptionInfo(1.0, "Noise multiplier for img2img", infotext="Noise multiplier"),
            "img2img_extra_noise": OptionInfo(0.0, "Extra noise multiplier for img2img and hires fix", infotext="Extra noise"),
            "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results to match original colors."),
            "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies."),
            "img2img_background_color": OptionInfo(
                "#ffffff", "With img2img, fill transparent parts of the input image with this color."
            ),
            "img2img_editor_height": OptionInfo(720, "Height of the image editor"),
            "img2img_sketch_default_brush_color": OptionInfo("#ffffff", "Sketch initial brush color"),
            "img2img_inpaint_mask_brush_color": OptionInfo("#ffffff", "Inpaint mask brush color"),
            "img2img_inpaint_sketch_default_brush_color": OptionInfo("#ffffff", "Inpaint sketch initial brush color"),
            "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results for web"),
            "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results for web"),
            "img2img_batch_show_results_limit": OptionInfo(32, "Show the first N batch img2img results in UI"),
            "overlay_inpaint": OptionInfo(True, "Overlay original for inpaint"),
        },
    )
)

options_templates.update(
    options_section(
        ("optimizations", "Optimizations", "sd"),
        {
            "cross_attention_optimization": OptionInfo("Automatic", "Cross attention optimization"),
            "s_min_uncond": OptionInfo(0.0, "Negative Guidance minimum sigma", infotext="NGMS"),
            "token_merging_ratio": OptionInfo(0.0, "Token merging ratio", infotext="Token merging ratio"),
            "token_merging_ratio_img2img": OptionInfo(0.0, "Token merging ratio for img2img"),
            "token_merging_ratio_hr": OptionInfo(0.0, "Token merging ratio for high-res pass", infotext="Token merging ratio hr"),
            "pad_cond_uncond": OptionInfo(False, "Pad prompt/negative prompt", infotext="Pad conds"),
            "persistent_cond_cache": OptionInfo(True, "Persistent cond cache"),
            "batch_cond_uncond": OptionInfo(True, "Batch cond/uncond"),
            "fp8_storage": OptionInfo("Disable", "FP8 weight"),
            "cache_fp16_weight": OptionInfo(False, "Cache FP16 weight for LoRA"),
        },
    )
)

options_templates.update(
    options_section(
        ("compatibility", "Compatibility", "sd"),
        {
            "use_old_emphasis_implementation": OptionInfo(False, "Use old emphasis implementation."),
            "use_old_karras_scheduler_sigmas": OptionInfo(False, "Use old karras scheduler sigmas (0.1 to 10)."),
            "no_dpmpp_sde_batch_determinism": OptionInfo(
                False, "Do not make DPM++ SDE deterministic across different batch sizes."
            ),
            "use_old_hires_fix_width_height": OptionInfo(
                False, "For hires fix, use width/height sliders to set final resolution"
            ),
            "hires_fix_use_firstpass_conds": OptionInfo(
                False, "For hires fix, calculate conds of second pass using extra networks of first pass."
            ),
            "use_old_scheduling": OptionInfo(False, "Use old prompt editing timelines.", infotext="Old prompt editing timelines"),
            "use_downcasted_alpha_bar": OptionInfo(
                False, "Downcast model alphas_cumprod to fp16 before sampling.", infotext="Downcast alphas_cumprod"
            ),
        },
    )
)

options_templates.update(
    options_section(
        ("interrogate", "Interrogate"), {"interrogate_keep_models_in_memory": OptionInfo(False, "Keep models in VRAM")}
    )
)

options_templates.update(
    options_section(
        ("ui", "User interface", "ui"),
        {
            "localization": OptionInfo("None", "Localization"),
            "quicksettings_list": OptionInfo(["sd_model_checkpoint"], "Quicksettings list"),
            "ui_tab_order": OptionInfo([], "UI tab order"),
            "hidden_tabs": OptionInfo([], "Hidden UI tabs"),
            "ui_reorder_list": OptionInfo([], "UI item order for txt2img/img2img tabs"),
            "gradio_theme": OptionInfo("Default", "Gradio theme"),
            "return_grid": OptionInfo(True, "Show grid in gallery"),
            "send_seed": OptionInfo(True, "Send seed when sending prompt or image to other interface"),
            "send_size": OptionInfo(True, "Send size when sending prompt or image to another interface"),
            "sd_checkpoint_dropdown_use_short": OptionInfo(False, "Checkpoint dropdown: use filenames without paths"),
        },
    )
)

options_templates.update(
    options_section(
        ("infotext", "Infotext", "ui"),
        {
            "add_model_name_to_info": OptionInfo(True, "Add model name to infotext"),
            "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext"),
            "add_vae_name_to_info": OptionInfo(True, "Add VAE name to infotext"),
            "add_vae_hash_to_info": OptionInfo(True, "Add VAE hash to infotext"),
            "add_user_name_to_info": OptionInfo(False, "Add user name to infotext when authenticated"),
            "add_version_to_infotext": OptionInfo(True, "Add program version to infotext"),
            "disable_weights_auto_swap": OptionInfo(True, "Disregard checkpoint information from pasted infotext"),
            "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext"),
            "infotext_styles": OptionInfo("Apply if any", "Infer styles from prompts of pasted infotext"),
        },
    )
)

options_templates.update(
    options_section(
        ("ui", "Live previews", "ui"),
        {
            "show_progressbar": OptionInfo(True, "Show progressbar"),
            "live_previews_enable": OptionInfo(True, "Show live previews of the created image"),
            "live_previews_image_format": OptionInfo("png", "Live preview file format"),
            "show_progress_grid": OptionInfo(True, "Show previews of all images generated in a batch as a grid"),
            "show_progress_every_n_steps": OptionInfo(10, "Live preview display period"),
            "show_progress_type": OptionInfo("Approx NN", "Live preview method"),
            "live_preview_content": OptionInfo("Prompt", "Live preview subject"),
        },
    )
)

options_templates.update(
    options_section(
        ("sampler-params", "Sampler parameters", "sd"),
        {
            "hide_samplers": OptionInfo([], "Hide samplers in user interface"),
            "eta_ddim": OptionInfo(0.0, "Eta for DDIM", infotext="Eta DDIM"),
            "eta_ancestral": OptionInfo(1.0, "Eta for k-diffusion samplers", infotext="Eta"),
            "ddim_discretize": OptionInfo("uniform", "img2img DDIM discretize"),
            "s_churn": OptionInfo(0.0, "sigma churn", infotext="Sigma churn"),
            "s_tmin": OptionInfo(0.0, "sigma tmin", infotext="Sigma tmin"),
            "s_tmax": OptionInfo(0.0, "sigma tmax", infotext="Sigma tmax"),
            "s_noise": OptionInfo(1.0, "sigma noise", infotext="Sigma noise"),
            "eta_noise_seed_delta": OptionInfo(0, "Eta noise seed delta", infotext="ENSD"),
            "always_discard_next_to_last_sigma": OptionInfo(
                False, "Always discard next-to-last sigma", infotext="Discard penultimate sigma"
            ),
        },
    )
)

options_templates.update(
    options_section(
        (None, "Hidden options"),
        {
            "disabled_extensions": OptionInfo([], "Disable these extensions"),
            "disable_all_extensions": OptionInfo("none", "Disable all extensions (preserves the list of disabled extensions)"),
            "restore_config_state_file": OptionInfo("", "Config state file to restore from"),
            "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint"),
        },
    )
)
