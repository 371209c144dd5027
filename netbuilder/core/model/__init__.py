"""The document: the graph of blocks and wires (`graph`), its loading and validation (`graph_files`), the
named events it announces (`events`), the undo journal, groups, layout and the training recipe it carries.

Plain Python over networkx, no torch. May import `base` and `layers` only.
"""
