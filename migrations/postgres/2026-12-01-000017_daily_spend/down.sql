DROP TABLE daily_spend;
