"""The outputs of the engine: one package per kind of output."""
