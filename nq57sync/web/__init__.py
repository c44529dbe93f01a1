"""The live dashboard (`nq57sync serve`)."""
