"""The one place where Streamlit widgets shared by the pages live."""
