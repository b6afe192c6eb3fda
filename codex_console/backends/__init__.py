"""Everything the console knows about the cluster. No Textual import anywhere below here."""
