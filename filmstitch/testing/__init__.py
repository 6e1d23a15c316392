"""Test and benchmark scaffolding (tiny models built in code). The product never imports this package."""
