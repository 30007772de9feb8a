"""The PowerPoint deck: everything that touches python-pptx. The master's layouts and
placeholders (found by name or type), slide building blocks, text fitting, native charts, the
appendix, and the bundled master's builder.
"""
