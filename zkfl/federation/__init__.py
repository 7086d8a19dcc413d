"""A federation's terms (verification mode, economics, timing) and its published manifest: what
every role agrees on before the first round."""
