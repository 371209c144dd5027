"""The canvas: scene, view, blocks, ports and wires."""
