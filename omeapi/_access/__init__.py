"""_access"""
