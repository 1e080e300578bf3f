"""_simulated"""
