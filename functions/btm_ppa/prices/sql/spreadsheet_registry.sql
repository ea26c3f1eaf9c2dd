-- Spreadsheets the nightly job refreshes.
SELECT spreadsheet_id, sheet
FROM spreadsheet_registry
WHERE enabled
ORDER BY spreadsheet_id
