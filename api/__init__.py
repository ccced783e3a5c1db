"""The HTTP face of losswatch."""
