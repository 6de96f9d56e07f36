"""The hostile battery: every command and webhook endpoint driven with generated hostile input."""
