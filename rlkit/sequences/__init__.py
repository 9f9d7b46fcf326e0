"""Sequence data for text generation (SeqGAN): token and text datasets, a toy grammar corpus, BLEU."""
