"""Curation: tags with undo, archive and restore, and stats over an ExampleFilter."""
