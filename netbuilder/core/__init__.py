"""The model of netbuilder: graph document, layer registry, shapes, compilation. No Qt here."""
