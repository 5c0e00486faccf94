"""Cross-session analyses computed from lake rows (Polars in, Polars out).

- :func:`psth`: spike counts around events, any number of sessions (also the DuckDB macro ``psth``).
- :func:`block_performance`: DR behaviour per block (hit and false-alarm rates, d'), from trials.
- :class:`~npc_lake.analysis.products.SessionProducts`: the analysis tables stored with each session
  (``unit_responses``, ``rf_maps``, ``spike_histograms``, ``drift_maps``).
"""

from npc_lake.analysis.alignment import psth
from npc_lake.sources.dr_performance import block_performance

__all__ = ["block_performance", "psth"]
