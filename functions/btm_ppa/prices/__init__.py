"""System prices: the Warehouse port and its SQL, the price schema and ingestion."""
