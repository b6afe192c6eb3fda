"""The Textual dashboard. It renders the backends' readings and turns keys into backend actions."""
