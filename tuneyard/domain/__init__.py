"""Plain dataclasses, enums and pure functions; nothing here does I/O."""
