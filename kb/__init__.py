"""The rule language and the law: kb/rules/*.dl, parsed, checked and compiled to pyDatalog."""
