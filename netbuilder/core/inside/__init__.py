"""Looking inside a trained network: probes (feature maps, filters, saliency, predictions) and the pictures
drawn from them and from runs (samples, reconstructions).

May import every room below it (`training` and down); never `exchange`.
"""
