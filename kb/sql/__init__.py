"""The set-at-a-time engine's passes: column types (types.py), the case abstraction (partition.py), the SQL
compiler (compile.py) and the answers kept on disk (store.py). kb/sqlengine.py runs the compiled program on
DuckDB or Spark."""
