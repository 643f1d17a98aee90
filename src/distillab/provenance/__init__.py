"""Prove distillation: keyed watermarks, radioactivity tests and black-box attribution, with exact p-values."""
