"""henryvc_training: the DVC stages (prepare, train, evaluate) that henryvc runs on Coqui TTS."""
