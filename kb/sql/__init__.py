"""The set-at-a-time engine's passes: column types (types.py), the demand rewrite (demand.py) and the SQL
compiler (compile.py). kb/sqlengine.py runs the compiled program on DuckDB or Spark."""
