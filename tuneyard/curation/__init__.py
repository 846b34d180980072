"""Curation: tags with undo, archive and restore, purge, and stats over an ExampleFilter."""
