"""``backend`` (Forge's own model/memory engine; stand-in subset: ``memory_management``)."""
