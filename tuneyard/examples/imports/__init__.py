"""JSONL import: a file of examples, one JSON object a line, recorded by an IMPORT job all or nothing."""
