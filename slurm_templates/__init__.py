"""The sbatch templates, shipped as package data so an installed console can render them."""
