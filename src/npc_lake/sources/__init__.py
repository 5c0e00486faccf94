"""Readers of input formats: each turns one source (a file or a folder) into a :class:`~npc_lake.schema.SessionBundle`.

Import the reader you need from its module (e.g. ``npc_lake.sources.nwb``); this package imports nothing
heavy on its own.
"""
