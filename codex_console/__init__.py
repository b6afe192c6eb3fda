"""codex-console: one screen (and one health check) for the codex services on a Slurm GPU node."""

import warnings

__version__ = "0.2.0"

# asyncssh (2.24 and older) names cryptography's DSA types when it is imported; cryptography 48
# and later warn on each name, five lines on stderr before anything else. We never use DSA keys,
# and a health check whose stderr has noise in it breaks the cron jobs that mail on any output.
# Set here, before any module of ours imports asyncssh; only those lines from asyncssh are hidden.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
