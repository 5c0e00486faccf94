"""Reading the lake: DuckDB SQL (``connect``, ``run_sql``) and Polars (``scan``)."""
