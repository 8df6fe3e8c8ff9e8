"""``modules_forge.forge_version`` (Forge): the version string ``launch_utils.git_tag()`` starts with."""

version = "2.0.1v1.10.1"
