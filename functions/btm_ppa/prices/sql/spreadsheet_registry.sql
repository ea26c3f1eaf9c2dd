-- Spreadsheets the nightly job refreshes; a NULL or blank tab means the layout's tab.
SELECT spreadsheet_id, NULLIF(TRIM(sheet), '') AS sheet
FROM spreadsheet_registry
WHERE enabled
ORDER BY spreadsheet_id
