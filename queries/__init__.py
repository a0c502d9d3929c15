"""The query layer: cases, decisions, why-not, reforms; SPARQL queries in queries/sparql."""
