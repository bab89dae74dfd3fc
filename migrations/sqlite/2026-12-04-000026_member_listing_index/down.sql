DROP INDEX memberships_listing_idx;
