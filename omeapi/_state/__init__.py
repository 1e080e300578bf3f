"""_state"""
