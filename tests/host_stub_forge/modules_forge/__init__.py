"""``modules_forge`` (Forge): its presence is how extensions tell Forge from A1111 (stand-in, tests only)."""
