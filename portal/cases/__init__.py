"""Cases: anonymous submissions (case number + PIN) and the hashes they hold."""
