"""Providers: one module per service a model is trained or served on, behind one interface (base.py)."""
